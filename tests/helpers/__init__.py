"""Helpers shared by the test modules (imported as ``helpers``; pyproject puts tests/ on sys.path).

Test modules import from here or use conftest fixtures; they never import each other."""
