"""Probe cases for tracesft.grading: (id, grader, response, truth, expected_label, note)."""

C = []


def add(cid, grader, response, truth, label, note=""):
    C.append(dict(id=cid, grader=grader, response=response.strip("\n"), truth=truth, label=label, note=note))


# ===================== Modern chat models (markdown) =====================
add("chat01", "ff", r"""
To find the sum of the interior angles of a hexagon, we use the formula:

\[
S = (n-2) \cdot 180^\circ
\]

where \( n = 6 \).

\[
S = (6-2) \cdot 180^\circ = 4 \cdot 180^\circ = 720^\circ
\]

### Final Answer
The sum of the interior angles is **720°**.
""", "720", True)

add("chat02", "ff", r"""
We need to solve \( 2x + 7 = 19 \).

1. Subtract 7 from both sides: \( 2x = 12 \).
2. Divide by 2: \( x = 6 \).

**Answer:** \( x = 6 \)
""", "6", True)

add("chat03", "ff", r"""
Let's compute the probability step by step.

- Total outcomes when rolling two dice: \(6 \times 6 = 36\).
- Outcomes where the sum is 7: (1,6), (2,5), (3,4), (4,3), (5,2), (6,1), so 6 outcomes.

Therefore the probability is

\[
\frac{6}{36} = \frac{1}{6}.
\]

### Final Answer
\[
\boxed{\dfrac{1}{6}}
\]
""", r"\frac{1}{6}", True)

add("chat04", "ff", r"""
We want the number of ways to choose 3 people from 10.

\[
\binom{10}{3} = \frac{10 \cdot 9 \cdot 8}{3 \cdot 2 \cdot 1} = 120
\]

So there are **120** ways.

**Final Answer:** 120
""", "120", True)

add("chat05", "ff", r"""
First, factor the quadratic:

\[
x^2 - 5x + 6 = (x-2)(x-3)
\]

Setting each factor equal to zero gives \(x = 2\) or \(x = 3\).

### Final Answer
The solutions are \( x = 2 \) and \( x = 3 \).
""", "2, 3", True)

add("chat06", "ff", r"""
## Step 1: Find the slope
The slope between \((1, 2)\) and \((3, 8)\) is \(\frac{8-2}{3-1} = 3\).

## Step 2: Find the intercept
Using \(y = 3x + b\) and the point \((1,2)\): \(2 = 3 + b\), so \(b = -1\).

## Step 3: Write the equation
The line is \(y = 3x - 1\).

The final answer is: $\boxed{y = 3x - 1}$
""", "y=3x-1", True)

add("chat07", "ff", r"""
## Step 1: Understand the problem
We need the remainder when \(2^{100}\) is divided by 7.

## Step 2: Find the cycle
Powers of 2 mod 7 cycle: \(2, 4, 1, 2, 4, 1, \dots\) with period 3.

## Step 3: Reduce the exponent
\(100 = 3 \cdot 33 + 1\), so \(2^{100} \equiv 2^1 = 2 \pmod 7\).

The final answer is: $\boxed{2}$
""", "2", True)

add("chat08", "ff", r"""
To find the area of the circle, use \(A = \pi r^2\) with \(r = 5\):

\[
A = \pi (5)^2 = 25\pi
\]

Numerically, this is approximately 78.54.

**Answer:** \(25\pi\) square units (≈ 78.54)
""", r"25\pi", True, "answer line has exact value plus approximation in parentheses")

add("chat09", "ff", r"""
Let's break this down.

**Given:**
- Speed = 60 mph
- Time = 2.5 hours

**Distance** = Speed × Time = 60 × 2.5 = 150 miles.

So, the car travels **150 miles**.
""", "150", True)

add("chat10", "ff", r"""
We want to simplify \(\sqrt{72}\).

Since \(72 = 36 \cdot 2\), we have

\[
\sqrt{72} = \sqrt{36}\cdot\sqrt{2} = 6\sqrt{2}.
\]

### Final Answer

\[
6\sqrt{2}
\]
""", r"6\sqrt{2}", True)

add("chat11", "ff", r"""
We need to solve the inequality \(3x - 4 \le 2\).

Adding 4 to both sides gives \(3x \le 6\), then dividing by 3 gives \(x \le 2\).

In interval notation, the solution set is:

**Answer:** \( x \in (-\infty, 2] \)
""", r"(-\infty, 2]", True)

add("chat12", "ff", r"""
To convert the point \((0, 3)\) to polar coordinates:

- \( r = \sqrt{0^2 + 3^2} = 3 \)
- Since the point lies on the positive \(y\)-axis, \( \theta = \frac{\pi}{2} \).

### Final Answer
\[
\boxed{\left(3, \frac{\pi}{2}\right)}
\]
""", r"\left( 3, \frac{\pi}{2} \right)", True)

add("chat13", "ff", r"""
Let's find the mean of the data set \(\{4, 8, 15, 16, 23, 42\}\).

Sum: \(4 + 8 + 15 + 16 + 23 + 42 = 108\).

Count: 6.

Mean: \(108 / 6 = 18\).

---

**Final Answer: 18**
""", "18", True)

add("chat14", "ff", r"""
We compute the determinant of
\[
\begin{pmatrix} 2 & 3 \\ 1 & 4 \end{pmatrix}.
\]

\[
\det = 2 \cdot 4 - 3 \cdot 1 = 8 - 3 = 5.
\]

### ✅ Final Answer:
\[
\boxed{5}
\]
""", "5", True)

add("chat15", "ff", r"""
We are asked for the value of \(\sin 30^\circ + \cos 60^\circ\).

- \(\sin 30^\circ = \tfrac{1}{2}\)
- \(\cos 60^\circ = \tfrac{1}{2}\)

Adding them:

\[
\tfrac12 + \tfrac12 = 1
\]

### Final Answer
**1**
""", "1", True)

add("chat16", "ff", r"""
To find the measure of each interior angle of a regular pentagon:

\[
\frac{(5-2)\cdot 180^\circ}{5} = \frac{540^\circ}{5} = 108^\circ
\]

**Final answer:** Each interior angle measures \(108^\circ\).
""", r"108^\circ", True)

add("chat17", "ff", r"""
Let's solve the system:

\[
\begin{cases}
x + y = 10 \\
x - y = 4
\end{cases}
\]

Adding the equations: \(2x = 14 \Rightarrow x = 7\). Then \(y = 10 - 7 = 3\).

### Final Answer
\[
(x, y) = (7, 3)
\]
""", "(7, 3)", True)

add("chat18", "ff", r"""
The sum of the first \(n\) odd numbers:

\[
1 + 3 + 5 + \cdots + (2n-1)
\]

This is an arithmetic series with \(n\) terms, first term 1, last term \(2n-1\):

\[
S = \frac{n(1 + 2n - 1)}{2} = \frac{n \cdot 2n}{2} = n^2
\]

**Answer:** \(n^2\)
""", "n^2", True)

add("chat19", "ff", r"""
We need the least common multiple of 12 and 18.

- \(12 = 2^2 \cdot 3\)
- \(18 = 2 \cdot 3^2\)

The LCM takes the highest powers: \(2^2 \cdot 3^2 = 36\).

---

### **Final Answer:**
$$
\boxed{36}
$$
""", "36", True)

add("chat20", "ff", r"""
We want to evaluate \(\log_2 64\).

Since \(2^6 = 64\), we get \(\log_2 64 = 6\).

**Therefore, \(\log_2 64 = 6\).**
""", "6", True)

# ---- chat: incorrect ----
add("chat21", "ff", r"""
To find the sum of the interior angles of a heptagon, we use the formula:

\[
S = (n-2) \cdot 180^\circ
\]

where \( n = 7 \). Note that a hexagon would give \(720^\circ\).

\[
S = (7-2) \cdot 180^\circ = 5 \cdot 180^\circ = 900^\circ
\]

### Final Answer
The sum of the interior angles is **900°**.
""", "720", False, "truth appears in working; final differs")

add("chat22", "ff", r"""
We need the probability of drawing 2 red balls from a bag of 5 red and 3 blue without replacement.

- \(P(\text{first red}) = \frac{5}{8}\)
- \(P(\text{second red} \mid \text{first red}) = \frac{4}{7}\)

Multiplying:

\[
\frac{5}{8}\cdot\frac{4}{7} = \frac{20}{56} = \frac{5}{14}
\]

### Final Answer
\[
\boxed{\frac{5}{16}}
\]
""", r"\frac{5}{14}", False, "correct in working, wrong boxed")

add("chat23", "ff", r"""
Let's solve \(x^2 = 16\).

Taking square roots: \(x = \pm 4\).

Since the problem asks for the positive solution... actually, it asks for all real solutions.

**Answer:** \(x = 4\) and \(x = -4\)
""", "4", False, "truth 4 (problem asked for the positive root); superset answer. Label debatable - a human might accept if the problem asked for positive.")

add("chat24", "ff", r"""
We compute \(\frac{2}{3} + \frac{1}{4}\).

Common denominator 12: \(\frac{8}{12} + \frac{3}{12} = \frac{11}{12}\).

As a decimal, this is approximately \(0.917\).

**Final Answer:** \(\approx 0.917\)
""", r"\frac{11}{12}", False, "approximation only, exact asked")

add("chat25", "ff", r"""
Let's work out the number of diagonals in a decagon.

Each vertex connects to \(n - 3 = 7\) non-adjacent vertices, giving \(10 \cdot 7 = 70\) endpoints pairs, but each diagonal is counted twice.

So the number of diagonals is \(70\).

### Final Answer
**70**
""", "35", False, "truth 35; model forgot to divide by 2 in conclusion")

add("chat26", "ff", r"""
Step 1: The rectangle has length 12 and width 5.
Step 2: The diagonal is \(\sqrt{12^2 + 5^2} = \sqrt{169} = 13\).
Step 3: The perimeter is \(2(12 + 5) = 34\).

The problem asks for the perimeter.

### Final Answer
The perimeter is **34**.
""", "13", False, "truth 13 appears as diagonal; final answers different quantity")

add("chat27", "ff", r"""
We want the vertex of \(y = x^2 - 6x + 5\).

The x-coordinate is \(-\frac{b}{2a} = \frac{6}{2} = 3\). Plugging in: \(y = 9 - 18 + 5 = -4\).

### Final Answer
The vertex is at \((3, 4)\).
""", "(3, -4)", False)

add("chat28", "ff", r"""
The problem asks how many positive divisors 36 has.

\(36 = 2^2 \cdot 3^2\), so the number of divisors is \((2+1)(2+1) = 9\).

Hmm, let me list them: 1, 2, 3, 4, 6, 9, 12, 18, 36. That's 9.

**Answer:** 9 divisors — wait, excluding 36 itself there are 8 proper divisors, so the answer is **8**.
""", "9", False, "changes answer to 8 at the end")

add("chat29", "ff", r"""
Let's simplify \(\frac{x^2 - 9}{x - 3}\).

Factoring the numerator: \((x-3)(x+3)\). Cancelling \(x - 3\):

\[
\frac{x^2 - 9}{x-3} = x + 3 \quad (x \neq 3)
\]

### Final Answer
\[
\boxed{x - 3}
\]
""", "x+3", False)

add("chat30", "ff", r"""
We need the interval where \(f(x) = x^2 - 4x\) is increasing.

\(f'(x) = 2x - 4 > 0 \iff x > 2\).

So \(f\) is increasing on \([2, \infty)\)... more precisely on \((2, \infty)\) for strict positivity of the derivative, but we report the closed interval as is conventional.

**Answer:** \( (-\infty, 2] \)
""", r"[2, \infty)", False, "writes the wrong interval on the answer line")

# ===================== GSM8K style =====================
add("gsm01", "ff", r"""
Natalia sold 48 clips in April. In May she sold half as many, so 48 / 2 = 24 clips.
Altogether she sold 48 + 24 = 72 clips.
#### 72
""", "72", True)

add("gsm02", "ff", r"""
Weng earns $12 an hour. She babysat for 50 minutes, which is 50/60 of an hour.
So she earned 12 * 50/60 = $10.
The answer is 10.
""", "10", True)

add("gsm03", "ff", r"""
Betty needs $100 for the wallet. She has half of that, which is $50.
Her parents give her $15, and her grandparents give her twice as much, $30.
So she now has 50 + 15 + 30 = $95.
She still needs 100 - 95 = $5.
The answer is $5.
""", "5", True)

add("gsm04", "ff", r"""
James writes a 3-page letter to 2 different friends twice a week.
Each week he writes 3 * 2 * 2 = 12 pages.
In a year he writes 12 * 52 = 624 pages.
So James writes 624 pages a year.
""", "624", True)

add("gsm05", "ff", r"""
The store sells 250 shirts per day for 5 days: 250 × 5 = 1,250 shirts.
Therefore, the store sells 1,250 shirts in total.
""", "1250", True)

add("gsm06", "ff", r"""
A pencil costs $0.75 and a notebook costs $2.75.
Together they cost 0.75 + 2.75 = $3.50.
So the total cost is $3.50.
""", "3.5", True)

add("gsm07", "ff", r"""
There were 40 students and 20 of them passed.
The fraction that passed is 20/40 = 1/2, which is 50%.
Therefore, 50% of the students passed.
""", "50", True)

add("gsm08", "ff", r"""
Tom has 3 boxes with 12 apples each, so 3 x 12 = 36 apples.
He gives away 8 apples, so he has 36 - 8 = 28 apples left.
Tom has 28 apples left.
""", "28", True)

add("gsm09", "ff", r"""
Let me work through this.

Mark's hourly rate is $18. He works 8 hours a day for 5 days, so 8 * 5 = 40 hours.
He earns 40 * 18 = $720 per week.

Mark earns 720 dollars per week.
""", "720", True)

add("gsm10", "ff", r"""
Janet's ducks lay 16 eggs per day. She eats 3 for breakfast and bakes muffins with 4.
So she has 16 - 3 - 4 = 9 eggs left.
She sells them at $2 each: 9 * 2 = $18.
Janet makes $18 every day at the farmers' market.
""", "18", True)

add("gsm11", "ff", r"""
First, 5 shirts at $12 each is 5 * 12 = 60 dollars.
Then 2 pairs of pants at $25 each is 2 * 25 = 50 dollars.
The total is 60 + 50 = 110 dollars.
With a 10% discount, she pays 110 - 11 = 99 dollars.
#### 99
""", "99", True)

add("gsm12", "ff", r"""
The train travels at 80 km/h for 3.5 hours.
Distance = 80 × 3.5 = 280 km.
The answer is 280 km.
""", "280", True)

add("gsm13", "ff", r"""
The recipe calls for 2 1/2 cups of flour per batch. For 3 batches she needs 3 × 2.5 = 7.5 cups.
She has 4 cups, so she needs 7.5 - 4 = 3.5 more cups.
The answer is 3 1/2 cups.
""", "3.5", True)

add("gsm14", "ff", r"""
The farmer has 120 chickens. He sells 25% of them, which is 0.25 * 120 = 30 chickens.
He has 120 - 30 = 90 chickens left.
Then he buys 15 more: 90 + 15 = 105.
The farmer now has one hundred five chickens, i.e. 105.
""", "105", True)

# ---- gsm incorrect ----
add("gsm15", "ff", r"""
Natalia sold 48 clips in April. In May she sold half as many, so 48 / 2 = 24 clips.
Altogether she sold 48 + 24 = 72 clips.
#### 24
""", "72", False, "truth in working, final 24")

add("gsm16", "ff", r"""
Betty needs $100 for the wallet. She has half of that, which is $50.
Her parents give her $15, and her grandparents give her twice as much, $30.
So she now has 50 + 15 + 30 = $95.
The answer is 95.
""", "5", False)

add("gsm17", "ff", r"""
A shirt costs $20 and is on sale for 25% off. The discount is 20 * 0.25 = $5.
So the sale price is 20 - 5 = $15.
Then there is 5% tax: 15 * 0.05 = 0.75. The final price is 15 + 0.75 = $15.75.
The answer is $15.
""", "15.75", False)

add("gsm18", "ff", r"""
There are 7 days in a week and she reads 15 pages a day.
In 4 weeks she reads 7 * 4 * 15 = 420 pages.
The book has 500 pages, so she has 500 - 420 = 80 pages left.
So she needs 80 / 15 = 5.33, which rounds to 5 more days.
The answer is 5.
""", "6", False)

add("gsm19", "ff", r"""
John buys 3 packs of gum with 12 sticks each, so 36 sticks.
He chews 4 sticks a day for 7 days: 28 sticks.
He has 36 - 28 = 8 sticks left.
The answer is 8 sticks; after giving 2 to his sister, he has 6 sticks.
""", "8", False, "debatable; conclusion revises after 'answer is'. Truth 8 if problem didn't mention sister; labeled by final value 6")

add("gsm20", "ff", r"""
Lisa has 3 times as many marbles as Tom, who has 12. So Lisa has 36.
Together they have 36 + 12 = 48 marbles.
They split them equally between 4 friends: 48 / 4 = 12 each.
Each friend gets 12 marbles.
""", "48", False, "truth appears in working")

add("gsm21", "ff", r"""
The plane flies 540 miles in 1.5 hours. Speed = 540 / 1.5 = 360 mph.
To fly 1,800 miles it needs 1,800 / 360 = 5 hours.
The answer is 1,800 miles.
""", "5", False, "restates question number as answer")

# ===================== MATH style =====================
add("math01", "ff", r"""
We want to compute $\frac{3}{8} + \frac{3}{8}$. This equals $\frac{6}{8}$, which simplifies to $\frac{3}{4}$.

Therefore, the answer is $\dfrac{3}{4}$.
""", r"\frac{3}{4}", True)

add("math02", "ff", r"""
The distance between $(1, 1)$ and $(4, 7)$ is $\sqrt{(4-1)^2 + (7-1)^2} = \sqrt{9 + 36} = \sqrt{45} = 3\sqrt{5}$.

So the distance is $3\sqrt5$.
""", r"3\sqrt{5}", True)

add("math03", "ff", r"""
The circumference of a circle with diameter 10 is $C = \pi d = 10\pi$.

The answer is $10\pi$.
""", r"10\pi", True)

add("math04", "ff", r"""
We solve $|x - 3| < 2$. This means $-2 < x - 3 < 2$, so $1 < x < 5$.

In interval notation the solution is $(1, 5)$.
""", "(1,5)", True)

add("math05", "ff", r"""
We need $x$ with $2 \le x < 5$ from combining the constraints $x \geq 2$ and $x < 5$.

The solution set is $[2, 5)$.
""", "[2,5)", True)

add("math06", "ff", r"""
The roots of $x^3 - 6x^2 + 11x - 6 = 0$: trying $x = 1$ gives $1 - 6 + 11 - 6 = 0$. Dividing, $x^3 - 6x^2 + 11x - 6 = (x-1)(x^2 - 5x + 6) = (x-1)(x-2)(x-3)$.

The roots are $1, 2, 3$.
""", "1,2,3", True)

add("math07", "ff", r"""
The angle whose tangent is $\sqrt{3}$ in $[0^\circ, 90^\circ]$ is $60^\circ$.

Thus $\theta = 60^\circ$.
""", "60", True)

add("math08", "ff", r"""
We find the inverse of $f(x) = 2x + 3$. Set $y = 2x + 3$ and solve for $x$: $x = \frac{y-3}{2}$.

Therefore $f^{-1}(x) = \frac{x-3}{2}$.
""", r"\frac{x-3}{2}", True)

add("math09", "ff", r"""
Let the matrix be $A = \begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}$. Its transpose swaps rows and columns.

Thus, $A^T = \begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}$.
""", r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}", True)

add("math10", "ff", r"""
The set of primes less than 12 is $\{2, 3, 5, 7, 11\}$.

So the answer is $\{2,3,5,7,11\}$.
""", r"\{2,3,5,7,11\}", True)

add("math11", "ff", r"""
We compute $\sum_{k=1}^n (2k+1) = 2\cdot\frac{n(n+1)}{2} + n = n^2 + 2n$.

Hence the sum equals $n(n+2)$.
""", "n^2+2n", True)

add("math12", "ff", r"""
The probability of getting at least one head in three tosses is $1 - \left(\frac{1}{2}\right)^3 = 1 - \frac18 = \frac78$.

Hence the probability is $\boxed{\frac78}$.
""", r"\frac{7}{8}", True)

add("math13", "ff", r"""
Using the quadratic formula on $x^2 - 2x - 1 = 0$: $x = \frac{2 \pm \sqrt{4 + 4}}{2} = 1 \pm \sqrt{2}$.

The solutions are $x = 1 + \sqrt{2}$ and $x = 1 - \sqrt{2}$, i.e. $\boxed{1 \pm \sqrt{2}}$.
""", r"1+\sqrt{2}, 1-\sqrt{2}", True)

add("math14", "ff", r"""
We want $\cos 120^\circ$. The reference angle is $60^\circ$, and cosine is negative in the second quadrant, so $\cos 120^\circ = -\cos 60^\circ = -\frac{1}{2}$.

Final answer: $-\tfrac{1}{2}$
""", r"-\frac{1}{2}", True)

# ---- math incorrect ----
add("math15", "ff", r"""
We want to compute $\frac{3}{8} + \frac{3}{8}$. This equals $\frac{6}{8}$.

Therefore, the answer is $\frac{6}{16}$.
""", r"\frac{3}{4}", False)

add("math16", "ff", r"""
We solve $|x - 3| \le 2$. This means $-2 \le x - 3 \le 2$, so $1 \le x \le 5$.

In interval notation the solution is $(1, 5)$.
""", "[1,5]", False, "open vs closed interval")

add("math17", "ff", r"""
We want $\sqrt{50}$. Since $50 = 25 \cdot 2$, $\sqrt{50} = 5\sqrt{2} \approx 7.07$.

So the answer is approximately $7.07$.
""", r"5\sqrt{2}", False, "approximation vs exact")

add("math18", "ff", r"""
The area of a circle of radius 3 is $\pi r^2 = 9\pi$.

Using $\pi \approx 3.14$, the area is $28.26$.
""", r"9\pi", False, "approx final; label debatable if the problem asked for a decimal")

add("math19", "ff", r"""
The roots of $x^2 - 5x + 6 = 0$ are $x = 2$ and $x = 3$. The problem asks for the smaller root.

The roots are $2$ and $3$.
""", "2", False, "superset: didn't pick the smaller root")

add("math20", "ff", r"""
We need $x$ such that $x^2 = 9$ and $x > 0$. The candidates are $x = 3$ and $x = -3$; only one is positive.

So $x$ is either $3$ or $-3$.
""", "3", False, "hedge / superset")

add("math21", "ff", r"""
We compute the sum $1 + 2 + \cdots + 10 = 55$. The problem asks for the sum of the squares, $1^2 + 2^2 + \cdots + 10^2$.

Using $\frac{n(n+1)(2n+1)}{6}$ with $n = 10$: $\frac{10 \cdot 11 \cdot 21}{6} = 385$.

So the sum of the squares is $358$.
""", "385", False, "typo'd digits in final")

add("math22", "ff", r"""
The angle in radians is $\frac{\pi}{3}$, which is $60^\circ$ in degrees. The question asks for the supplement of this angle.

The supplement is $120^\circ$.
""", r"60^\circ", False)

add("math23", "ff", r"""
We want to factor $x^2 + 5x + 6$. We look for two numbers multiplying to 6 and adding to 5: 2 and 3.

Thus $x^2 + 5x + 6 = (x+2)(x+3)$, so the zeros are $-2$ and $-3$.
""", "(x+2)(x+3)", False, "asked for factorization; final sentence's answer is the zeros. Debatable: the factorization IS stated in final sentence.")

add("math24", "ff", r"""
The solution set of $x^2 < 4$ is $-2 < x < 2$.

In interval notation: $[-2, 2]$.
""", "(-2,2)", False)

# ===================== Multiple choice =====================
add("mc01", "ff", r"""
Let's evaluate each option.

(A) 8 — too small.
(B) 10 — this is the perimeter, not the area.
(C) 12 — area = 3 × 4 = 12. ✓
(D) 14 — too large.

The correct answer is C) 12.
""", "C", True)

add("mc02", "ff", r"""
We compute 15% of 80: 0.15 × 80 = 12.

Among the options, 12 corresponds to option (B).

**Answer: (B)**
""", "B", True)

add("mc03", "ff", r"""
The derivative of $x^3$ is $3x^2$, which matches choice D.

Option D
""", "D", True)

add("mc04", "ff", r"""
Since the function is odd, the integral over a symmetric interval is 0. That corresponds to answer choice (A).

Therefore the answer is (A) 0.
""", "A", True)

add("mc05", "ff", r"""
After simplifying, the expression equals $2\sqrt{3}$. Looking at the choices:
A. $\sqrt{3}$
B. $2\sqrt{3}$
C. $3\sqrt{2}$
D. $6$

The answer is B.
""", "B", True)

add("mc06", "ff", r"""
Solving gives x = 7. The options were (A) 5, (B) 6, (C) 7, (D) 8.

$\boxed{C}$
""", "C", True)

add("mc07", "ff", r"""
Let's check each choice. Option (C) gives 12, which is the perimeter rather than the area, so it's wrong. The area is 3 × 5 = 15, which is option (D).

The correct answer is (D).
""", "C", False, "truth letter mentioned in working; final D")

add("mc08", "ff", r"""
Computing, the value is 18. None of A (12), B (15), or C (16) match, but D is 18.

Answer: D
""", "B", False)

add("mc09", "ff", r"""
The equation has two real roots, so the discriminant is positive. Both (A) and (C) describe a positive discriminant, but (C) also claims the roots are equal, which is false.

So the answer is (A), not (C).
""", "A", True, "negation trap: 'not (C)' after correct answer")

add("mc10", "ff", r"""
The value of the expression is 24, which corresponds to option B.

I'm torn between B and C; after rechecking, it could be either B or C.
""", "B", False, "hedge between two options")

add("mc11", "ff", r"""
**Step-by-step:**
1. The slope is 2.
2. The y-intercept is -3.
3. So the equation is y = 2x - 3, which is option **(E)**.

### Final Answer
**(E) y = 2x − 3**
""", "E", True)

add("mc12", "ff", r"""
The correct option is C because the sum of the angles in a triangle is 180 degrees, so the third angle is 180 - 50 - 60 = 70 degrees.
""", "C", True, "answer first, then justification with numbers")

# ===================== Yes/No =====================
add("yn01", "ff", r"""
We check whether 91 is prime. Note that 91 = 7 × 13.

No, 91 is not a prime number.
""", "No", True)

add("yn02", "ff", r"""
We want to know if there is an integer n with n^2 = 2 mod 4. Squares mod 4 are 0 or 1 only.

Therefore, no such integer exists.
""", "No", True)

add("yn03", "ff", r"""
Is $\sqrt{2} + \sqrt{3} > \pi$? We have $\sqrt2 \approx 1.414$ and $\sqrt3 \approx 1.732$, sum $\approx 3.146 > 3.14159$.

**Answer: Yes**
""", "Yes", True)

add("yn04", "ff", r"""
Is 2^31 - 1 prime? This is a Mersenne number, and it is known to be prime (Euler proved it in 1772).

Yes.
""", "Yes", True)

add("yn05", "ff", r"""
Can a triangle have sides 3, 4, and 8? By the triangle inequality, 3 + 4 = 7 < 8.

So the answer is no.
""", "No", True)

add("yn06", "ff", r"""
We check whether 91 is prime. Trying small primes: 2, 3, 5 do not divide 91. Trying 7... 7 × 13 = 91? Let me recompute: 7 × 13 = 91. Hmm, actually I'll double check 7 × 12 = 84, plus 7 is 91.

Yes, 91 is prime since it is not divisible by 2, 3, or 5.
""", "No", False)

add("yn07", "ff", r"""
Is the sequence $a_n = 1/n$ convergent? As $n \to \infty$, $1/n \to 0$.

Yes, it converges to 0.
""", "Yes", True)

add("yn08", "ff", r"""
Does the series $\sum 1/n$ converge? This is the harmonic series. By the integral test, $\int_1^\infty dx/x$ diverges.

So the series does not converge; it diverges.
""", "No", True)

add("yn09", "ff", r"""
Can 100 be written as the sum of two primes? 100 = 3 + 97, and both are prime.

It is possible: 100 = 3 + 97.
""", "Yes", True)

add("yn10", "ff", r"""
We need to know whether 2023 is divisible by 7. 7 × 289 = 2023. Yes, it is.

### Final Answer
**Yes**, 2023 is divisible by 7.
""", "Yes", True)

# ===================== Expressions in n =====================
add("expr01", "ff", r"""
Each of the $n$ people shakes hands with the other $n-1$, and each handshake is counted twice, so the number of handshakes is $\frac{n(n-1)}{2}$.

**Answer:** $\binom{n}{2}$
""", r"\frac{n(n-1)}{2}", True)

add("expr02", "ff", r"""
The number of subsets of an $n$-element set is obtained by deciding for each element whether it is included, giving $2 \cdot 2 \cdots 2 = 2^n$.

So there are $2^n$ subsets.
""", "2^n", True)

add("expr03", "ff", r"""
The sum $1 + 2 + \cdots + n$ equals $\frac{n(n+1)}{2}$. The problem asks for the sum of the first $n$ even numbers, which is twice this.

So the sum is $n(n+1)$.
""", "n^2+n", True)

add("expr04", "ff", r"""
The number of subsets of an $n$-element set is $2^n$; excluding the empty set we get $2^n - 1$ nonempty subsets.

So there are $2^n$ nonempty subsets.
""", "2^n-1", False)

add("expr05", "ff", r"""
The closed form of $a_n$ with $a_1 = 1$ and $a_{n+1} = 2a_n + 1$ is $a_n = 2^n - 1$. Checking: $a_1 = 1$, $a_2 = 3$, $a_3 = 7$. ✓

Therefore $a_n = 2^{n} - 1$.
""", "2^n - 1", True)

add("expr06", "ff", r"""
Counting arrangements, we get $n!$ orderings, but rotations are equivalent, so we divide by $n$.

The number of circular arrangements is $n!$.
""", "(n-1)!", False)

# ===================== Traps (free-form) =====================
add("trap01", "ff", r"""
A common mistake is to think the answer is 5, since 5 appears in the problem statement. But carefully counting, we get 6 distinct arrangements.

The answer is not 5, it is 6.
""", "6", True)

add("trap02", "ff", r"""
A common mistake is to think the answer is 5, since 5 appears in the problem statement. But carefully counting, we get 6 distinct arrangements.

The answer is not 5, it is 6.
""", "5", False)

add("trap03", "ff", r"""
The number of integer solutions depends on whether we count the endpoints. If we include both endpoints we get 4; otherwise 3.

So the answer is either 3 or 4.
""", "3", False, "hedge")

add("trap04", "ff", r"""
We need all primes p such that p + 2 is also prime and p < 5. Checking: p = 2 gives 4 (not prime); p = 3 gives 5 (prime).

Therefore the answer is 2 and 3.
""", "3", False, "superset")

add("trap05", "ff", r"""
The problem: "Find x if 3x + 5 = 20." We subtract 5: 3x = 15, then x = 15/3.

Let me compute 15/3 carefully. We have 3 × 4 = 12, 3 × 5 = 15, so x = 5. Wait, I should double-check by substituting: 3(5) + 5 = 20. ✓

Hmm, but re-reading, the equation was 3x + 5 = 23, so 3x = 18 and x =
""", "5", False, "truncated; never finishes")

add("trap06", "ff", r"""
Let me solve this problem step by step.

Step 1: Understand the problem.
Step 2: Set up the equation.
Step 3: Solve: 4x = 28, so x = 7.
Step 4: Check the answer.
Step 5: Verify with the original conditions.

I went through 5 steps to solve this.
""", "5", False, "truth appears as a step count; real answer 7")

add("trap07", "ff", r"""
We need the number of ways to arrange the letters of BOOK. There are 4 letters with O repeated twice, so 4!/2! = 12.

Wait, the question asks for the number of distinct letters, which is 3.

Let me reconsider: the question clearly asks for arrangements. We computed 4!/2! = 12 arrangements. The word has 4 letters and 3 distinct letters.
""", "12", True, "final sentence mentions 3 distinct letters; the answer 12 is stated earlier. Label: correct (human reading whole response); debatable")

add("trap08", "ff", r"""
Since the problem gives 12 apples and 4 friends, we divide: 12 / 4 = 3.

Each friend gets 3 apples. (Note: the problem says there are 12 apples in total.)
""", "3", True, "restated question number in trailing note")

add("trap09", "ff", r"""
Since the problem gives 12 apples and 4 friends, we divide: 12 / 4 = 3.

Each friend gets 4 apples. (Note: the problem says there are 12 apples in total.)
""", "3", False, "truth appears in working")

add("trap10", "ff", r"""
We compute $7 \times 8 = 56$.

Hmm, I initially thought 54, but that was wrong.

The answer is 56, not 54.
""", "56", True)

add("trap11", "ff", r"""
The integral $\int_0^1 x^2\,dx = \frac{1}{3}$.

Rounded to two decimals, the answer is 0.33.
""", r"\frac{1}{3}", False, "debatable: depends on whether problem asked for decimals; labelled by exactness")

add("trap12", "ff", r"""
We find $\sqrt{2} \approx 1.41421$. Thus the exact value of the diagonal of the unit square is $\sqrt{2}$.

The diagonal is $\sqrt{2} \approx 1.414$.
""", r"\sqrt{2}", True)

add("trap13", "ff", r"""
The problem states that the train leaves at 3 PM and travels 180 miles at 60 mph. So it takes 180/60 = 3 hours.

The train arrives at 6 PM.
""", "6", True, "time answer '6 PM'")

add("trap14", "ff", r"""
The possible values of $k$ are those making the discriminant zero: $k^2 - 16 = 0$, so $k = \pm 4$. The problem asks for the positive value.

Thus, $k = \pm 4$.
""", "4", False, "superset via ±")

add("trap15", "ff", r"""
Let's count the number of rectangles in a 2x3 grid. Choosing 2 of the 3 horizontal lines and 2 of the 4 vertical lines: $\binom{3}{2}\binom{4}{2} = 3 \cdot 6 = 18$.

I believe the answer is around 18, but I'm not fully certain; it could be 20 if we count differently.
""", "18", False, "hedge between 18 and 20; debatable - many graders would accept primary answer")

add("trap16", "ff", r"""
Let's find how many positive integers less than 100 are divisible by 3 or 5.

Multiples of 3: $\lfloor 99/3 \rfloor = 33$.
Multiples of 5: $\lfloor 99/5 \rfloor = 19$.
Multiples of 15: $\lfloor 99/15 \rfloor = 6$.

By inclusion-exclusion: $33 + 19 - 6 = 46$.

So there are 46 such integers, out of the 99 positive integers below 100.
""", "46", True, "trailing number after answer")

add("trap17", "ff", r"""
Let's find how many positive integers less than 100 are divisible by 3 or 5.

Multiples of 3: 33. Multiples of 5: 19. Multiples of 15: 6.

By inclusion-exclusion: $33 + 19 - 6 = 46$.

So there are 52 such integers.
""", "46", False)

add("trap18", "ff", r"""
The answer is $\frac{1}{2}$... no wait. Let me redo: the probability is $\frac{3}{8}$ since there are 3 favourable outcomes of 8.

Final: $\frac{3}{8}$
""", r"\frac{3}{8}", True)

add("trap19", "ff", r"""
The answer is $\frac{1}{2}$... no wait. Let me redo: the probability is $\frac{3}{8}$ since there are 3 favourable outcomes of 8.

Final: $\frac{3}{8}$
""", r"\frac{1}{2}", False)

add("trap20", "ff", r"""
We are told the perimeter of the square is 20, so the side is 5. The problem asks for the area.

The area of the square is 5 squared.
""", "25", True, "answer given as words '5 squared'; human accepts. Debatable.")

# ===================== Reasoning model (free-form, R1/Qwen style with think) =====================
add("rsn01", "ff", r"""
<think>
Okay, so I need to find how many positive integers n ≤ 100 satisfy n ≡ 3 mod 7. Let me think. The numbers are 3, 10, 17, ..., up to the largest ≤ 100. 3 + 7k ≤ 100 means k ≤ 13.857, so k = 0..13, that's 14 numbers. Wait, let me double check: 3 + 7·13 = 94, and 3 + 7·14 = 101 > 100. So 14 numbers. Hmm, is the answer 13? No, k from 0 to 13 inclusive is 14 values.
</think>

The integers are $3, 10, 17, \ldots, 94$, i.e. $3 + 7k$ for $k = 0, 1, \ldots, 13$.

Therefore there are $\boxed{14}$ such integers.
""", "14", True)

add("rsn02", "ff", r"""
<think>
Let me compute 17 × 23. 17 × 20 = 340, 17 × 3 = 51, total 391. Is that right? 391 / 17 = 23. Yes.
</think>

**Solution**

\(17 \times 23 = 17 \times 20 + 17 \times 3 = 340 + 51 = 391\).

**Final Answer**
\[
\boxed{391}
\]
""", "391", True)

add("rsn03", "ff", r"""
<think>
Alright, the problem: find the minimum of f(x) = x^2 - 4x + 7. Complete the square: (x-2)^2 + 3. So the minimum is 3, at x = 2. The question asks for the minimum value, so 3. But wait — maybe they want where it occurs? "Find the minimum value" — it's 3.
</think>

Completing the square, $f(x) = (x-2)^2 + 3$, so the minimum value is $3$, attained at $x = 2$.
""", "3", True, "final sentence has a trailing 'attained at x = 2'")

add("rsn04", "ff", r"""
<think>
We need the number of trailing zeros of 100!. floor(100/5) + floor(100/25) = 20 + 4 = 24.
</think>

The number of trailing zeros in $100!$ is $\lfloor 100/5 \rfloor + \lfloor 100/25 \rfloor = 20 + 4 = 24$.

**Answer: 24**
""", "24", True)

add("rsn05", "ff", r"""
<think>
Okay, let's see. The sum of the digits of 2^10 = 1024 is 1+0+2+4 = 7. Wait, the question asks for the sum of the digits of 2^15 = 32768: 3+2+7+6+8 = 26.
</think>

$2^{15} = 32768$, and its digit sum is $3+2+7+6+8 = 26$.

So the answer is **26**.
""", "7", False, "truth in think; final differs")

add("rsn06", "ff", r"""
<think>
Let me find gcd(84, 126). 126 = 84 + 42, 84 = 2·42. So gcd is 42. Hmm, but let me reconsider: is it 21? 84/21 = 4, 126/21 = 6, gcd(4,6) = 2 so no, 42 is right.
</think>

Using the Euclidean algorithm: $126 = 1\cdot 84 + 42$ and $84 = 2 \cdot 42$, so $\gcd(84, 126) = 42$.
""", "42", True)

add("rsn07", "ff", r"""
<think>
Let me compute the area of a triangle with sides 13, 14, 15. s = 21. Area = sqrt(21·8·7·6) = sqrt(7056) = 84. So 84. Let me double check 7056 = 84^2: 84^2 = 7056. Yes.

Hmm wait, but actually the problem asks for the length of the altitude to the side of length 14. That's 2·84/14 = 12. So the answer is 12.
</think>

By Heron's formula the area is $84$, so the altitude to the side of length $14$ is $\frac{2 \cdot 84}{14}$.
""", "12", True, "final sentence gives unsimplified expression 2*84/14 = 12; a human accepts")

add("rsn08", "ff", r"""
<think>
The question asks for the smallest prime greater than 50. 51 = 3·17, 52 even, 53 is prime. So 53.
</think>

The smallest prime greater than $50$ is $53$.
""", "53", True)

add("rsn09", "ff", r"""
<think>
Okay so I need to evaluate the limit of (sin x)/x as x → 0. That's 1. Standard result. But wait, the problem says (sin 3x)/x. So it's 3·(sin 3x)/(3x) → 3.
</think>

$$\lim_{x\to 0}\frac{\sin 3x}{x} = 3\lim_{x\to 0}\frac{\sin 3x}{3x} = 3 \cdot 1 = 3.$$
""", "3", True, "final is display chain ending in = 3")

add("rsn10", "ff", r"""
<think>
Let me think about how many ways to tile a 2×4 board with dominoes. This is Fibonacci: f(1)=1, f(2)=2, f(3)=3, f(4)=5. So 5 ways.

Hmm, let me just make sure by listing. All vertical: 1. Two horizontal pairs at positions 1-2: then rest vertical... I'll trust the recursion. f(4) = f(3)+f(2) = 3+2 = 5.

Actually wait, I need to reconsider the problem. It says 3×4 board? No—2×4. OK so the answer is 5. Though let me also double-check f(3) by listing: VVV, VHH (vertical then two horizontal stacked), HHV. That's 3. Good.

So the number of tilings for a 2×n board follows
""", "5", False, "truncated mid-think; never gives final answer")

# ===================== R1-Zero format =====================
add("r1z01", "r1", r""" We need to find 15% of 240. 0.15 × 240 = 36. </think> <answer> 36 </answer>""", "36", True)
add("r1z02", "r1", r""" The area is 6 × 4 / 2 = 12 square units. </think> <answer> \boxed{12} </answer>""", "12", True)
add("r1z03", "r1", r""" Solve 3x - 7 = 8: 3x = 15, x = 5. </think> <answer> x = 5 </answer>""", "5", True)
add("r1z04", "r1", r""" Speed 60 km/h for 2.5 h gives 150 km. </think> <answer> 150 km </answer>""", "150", True)
add("r1z05", "r1", r""" The fraction is 6/8 which reduces to 3/4. </think> <answer> \frac{3}{4} </answer>""", r"\frac{3}{4}", True)
add("r1z06", "r1", r""" Cost is 3 × $4.50 = $13.50. </think> <answer> $13.50 </answer>""", "13.5", True)
add("r1z07", "r1", r""" 25 of 40 is 62.5%. </think> <answer> 62.5% </answer>""", "62.5", True)
add("r1z08", "r1", r""" Total is 1,250 + 750 = 2,000. </think> <answer> 2,000 </answer>""", "2000", True)
add("r1z09", "r1", r""" The roots of x^2-5x+6 are 2 and 3. </think> <answer> 2, 3 </answer>""", "2,3", True)
add("r1z10", "r1", r""" The option with 12 is C. </think> <answer> C </answer>""", "C", True)
add("r1z11", "r1", r""" The solution set of x <= 2 in interval notation. </think> <answer> (-\infty, 2] </answer>""", r"(-\infty,2]", True)
add("r1z12", "r1", r""" Angle is 180 - 110 = 70 degrees. </think> <answer> 70 degrees </answer>""", "70", True)
add("r1z13", "r1", r""" He has 48 + 24 = 72 clips. </think>
<answer>
The answer is 72.
</answer>""", "72", True, "sentence inside answer tag")
add("r1z14", "r1", r""" $\sqrt{45} = 3\sqrt{5}$. </think> <answer> $3\sqrt{5}$ </answer>""", r"3\sqrt{5}", True)
add("r1z15", "r1", r""" 72 clips in total. </think> <answer> 72 clips </answer>""", "72", True)
add("r1z16", "r1", r""" She earns 12 × 50/60 = 10 dollars. </think> <answer> 10 dollars </answer>""", "10", True)
add("r1z17", "r1", r""" Each interior angle is 108. </think> <answer> 108^\circ </answer>""", "108", True)
add("r1z18", "r1", r""" Solution: x = 7, y = 3. </think> <answer> x = 7, y = 3 </answer>""", "(7,3)", True, "assignments vs tuple truth")
add("r1z19", "r1", r""" Speed is 540/1.5 = 360 mph. </think> <answer> 360 mph </answer>""", "360", True)
add("r1z20", "r1", r""" Probability is 5/14 ≈ 0.357. </think> <answer> 5/14 ≈ 0.357 </answer>""", r"\frac{5}{14}", True)
add("r1z21", "r1", r""" 91 = 7 × 13 so it is not prime. </think> <answer> No </answer>""", "No", True)
add("r1z22", "r1", r""" Area of circle radius 5 is 25π. </think> <answer> 25π </answer>""", r"25\pi", True)
add("r1z23", "r1", r""" Option C gives 12. </think> <answer> (C) 12 </answer>""", "C", True)
add("r1z24", "r1", r""" Total cost = $1,234.50. </think> <answer> \$1,234.50 </answer>""", "1234.5", True)
# r1 incorrect
add("r1z25", "r1", r""" He has 48 + 24 = 72 clips. Half of that is 36. </think> <answer> 36 </answer>""", "72", False)
add("r1z26", "r1", r""" x could be 3 or 4 depending. </think> <answer> 3 or 4 </answer>""", "3", False, "hedge")
add("r1z27", "r1", r""" 72 clips. </think> <answer> 72 </answer> Actually, wait, I made an error; it should be 60. <answer> 60 </answer>""", "72", False, "second answer block after correction; format ambiguous")
add("r1z28", "r1", r""" Computing 15% of 240 gives 36. </think> <answer> approximately 40 </answer>""", "36", False)
add("r1z29", "r1", r""" The roots are 2 and 3; the question asks for the smaller. </think> <answer> 2, 3 </answer>""", "2", False, "superset")
add("r1z30", "r1", r""" We compute 1/3 ≈ 0.333. </think> <answer> 0.333 </answer>""", r"\frac{1}{3}", False)
add("r1z31", "r1", r""" The answer is 5 because... wait actually it's 6. </think> <answer> not 5 </answer>""", "5", False)
add("r1z32", "r1", r""" x = 5 is the answer. </think> <answer> </answer>""", "5", False, "empty answer tag")
add("r1z33", "r1", r""" Let me think about 2^10. That's 1024. Hmm, and the question asks for the number of digits, which is 4. </think> <answer> 1024 </answer>""", "4", False)
add("r1z34", "r1", r""" Option C gives 12 and option B gives 10. </think> <answer> B </answer>""", "C", False)
add("r1z35", "r1", r""" 25 of 40 = 62.5%. </think> <answer> 0.625 </answer>""", "62.5", True, "0.625 vs 62.5 (percent) — human accepts; debatable")
add("r1z36", "r1", r""" Let me compute. 36 + 36 = 72. So the answer is 72. </think>""", "72", False, "no answer tag: format failure")
add("r1z37", "r1", r""" The angle is 30 degrees. </think> <answer> \boxed{30^\circ} </answer>""", r"\frac{\pi}{6}", True, "degrees vs radians truth; debatable - depends on problem")
add("r1z38", "r1", r""" The answer is x = 5. </think> <answer> The value of x is 5, not 6. </answer>""", "6", False)
add("r1z39", "r1", r""" The answer is x = 5. </think> <answer> The value of x is 5, not 6. </answer>""", "5", True)
add("r1z40", "r1", r""" Solve. Both 2 and -2 square to 4; we need positive. </think> <answer> x = \pm 2 </answer>""", "2", False, "superset")

CASES = C

# ===================== Batch 2: more incorrect + variants of found weak spots =====================
# --- GSM8K with $ amounts (currency dollar signs) ---
add("gsm22", "ff", r"""
Betty needs $100 for the wallet. She has half of that, which is $50.
Her parents give her $15, and her grandparents give her twice as much, $30.
So she now has 50 + 15 + 30 = $95.
She still needs $100 - $95 = $5.
""", "95", False, "truth 95 in working; final 5 (truth set wrong on purpose: tests currency-dollar span parsing)")

add("gsm23", "ff", r"""
Each ticket costs $12. For 4 people the tickets cost 4 * $12 = $48.
Popcorn costs $6 per person, so 4 * $6 = $24.
In total they spend $48 + $24 = $72.
""", "48", False, "truth appears mid-working")

add("gsm24", "ff", r"""
Each ticket costs $12. For 4 people the tickets cost 4 * $12 = $48.
Popcorn costs $6 per person, so 4 * $6 = $24.
In total they spend $48 + $24 = $72.
""", "72", True)

add("gsm25", "ff", r"""
Weng earns $12 an hour. She babysat for 50 minutes, which is 50/60 of an hour.
So she earned 12 * 50/60 = $10.
#### 12
""", "10", False, "#### marker gives 12; working says 10")

add("gsm26", "ff", r"""
He runs 3 sprints 3 times a week, so 3 * 3 = 9 sprints.
Each sprint is 60 meters, so 9 * 60 = 540 meters.
#### 540
""", "540", True)

add("gsm27", "ff", r"""
Each box holds 24 cans. There are 15 boxes, so 15 * 24 = 360 cans.
They sold 2/3 of them: 360 * 2/3 = 240 cans.
#### 120
""", "240", False, "#### says 120, working has 240")

add("gsm28", "ff", r"""
Kylar buys 16 glasses. Every second glass costs 60% of $5, which is $3.
8 glasses cost $5 and 8 cost $3: 8 * 5 + 8 * 3 = 40 + 24 = 64.
He needs to pay $64 for the glasses.
""", "64", True)

add("gsm29", "ff", r"""
Kylar buys 16 glasses. Every second glass costs 60% of $5, which is $3.
8 glasses cost $5 and 8 cost $3: 8 * 5 + 8 * 3 = 40 + 24 = 64.
He needs to pay $60 for the glasses.
""", "64", False)

add("gsm30", "ff", r"""
The bakery makes 120 cookies. They sell 3/4 of them, which is 90 cookies.
They have 120 - 90 = 30 cookies left.
They will have 25 cookies left after giving 5 to the staff.
""", "30", False, "truth in penultimate line")

add("gsm31", "ff", r"""
She reads 20 pages a day. The book has 240 pages, so it takes 240 / 20 = 12 days.
It will take her 12 days to finish the book.
""", "12", True)

add("gsm32", "ff", r"""
She reads 20 pages a day. The book has 240 pages, so it takes 240 / 20 = 12 days.
It will take her 10 days to finish the book.
""", "12", False)

add("gsm33", "ff", r"""
The car uses 1 gallon per 30 miles. For 450 miles it needs 450 / 30 = 15 gallons.
Gas costs $3.20 per gallon, so 15 * 3.20 = $48.
The trip costs $45.
""", "48", False)

add("gsm34", "ff", r"""
There are 30 students. 40% of them are boys: 0.4 * 30 = 12 boys.
So there are 30 - 12 = 18 girls.
There are 18 girls in the class.
""", "18", True)

add("gsm35", "ff", r"""
There are 30 students. 40% of them are boys: 0.4 * 30 = 12 boys.
So there are 30 - 12 = 18 girls.
There are 12 girls in the class.
""", "18", False)

add("gsm36", "ff", r"""
Start with 50 marbles. He loses 12, leaving 50 - 12 = 38. He then buys 20 more.
He now has 58 marbles.
""", "58", True)

add("gsm37", "ff", r"""
Start with 50 marbles. He loses 12, leaving 50 - 12 = 38. He then buys 20 more.
He now has 68 marbles.
""", "58", False)

# --- boxed intermediate / multiple boxes (Qwen/R1 style) ---
add("box01", "ff", r"""
First we find the side: $s = \sqrt{49} = \boxed{7}$.

Then the perimeter is $4s = 28$.

So the perimeter of the square is $28$.
""", "28", True, "boxed intermediate, final unboxed")

add("box02", "ff", r"""
First we find the side: $s = \sqrt{49} = 7$.

Then the perimeter is $4s = 28$, but the problem asks for the side length.

**Final Answer**
\[
\boxed{28}
\]
""", "7", False)

add("box03", "ff", r"""
<think>
x^2 - 5x + 6 = 0 factors as (x-2)(x-3), roots 2 and 3.
</think>

The solutions are $\boxed{2}$ and $\boxed{3}$.
""", "2, 3", True, "two boxes for a two-element answer")

add("box04", "ff", r"""
The equation $x^2 = 4$ has the solutions $x = 2$ and $x = -2$.

Therefore, $x = \boxed{-2}$ or $x = \boxed{2}$.
""", "-2, 2", True)

add("box05", "ff", r"""
We find $x = 3$ and $y = 5$.

\[
\boxed{x = 3}, \quad \boxed{y = 5}
\]
""", "(3, 5)", True)

add("box06", "ff", r"""
The total cost is $3 \times 4.50 = 13.50$ dollars.

\[
\boxed{\$13.50}
\]
""", "13.5", True)

add("box07", "ff", r"""
The train takes $\frac{240}{80} = 3$ hours.

\[
\boxed{3 \text{ hours}}
\]
""", "3", True)

add("box08", "ff", r"""
The fraction of students who passed is $\frac{20}{40} = 50\%$.

\[
\boxed{50\%}
\]
""", "50", True)

add("box09", "ff", r"""
Since $91 = 7 \times 13$, it is not prime.

$\boxed{\text{No}}$
""", "No", True)

add("box10", "ff", r"""
The area is $\frac{1}{2} \cdot 6 \cdot 8 = 24$ square centimetres.

$\boxed{24 \text{ cm}^2}$
""", "24", True)

add("box11", "ff", r"""
We find that the expression equals $12$, which is option (C).

$\boxed{\text{(C) } 12}$
""", "C", True)

add("box12", "ff", r"""
The total is 15 + 27 = 42 apples.

**Final Answer:** $\boxed{42}$ apples
""", "42", True)

add("box13", "ff", r"""
The area is $\frac{1}{2} \cdot 6 \cdot 8 = 24$ square centimetres.

$\boxed{24 \text{ cm}^2}$
""", "48", False)

add("box14", "ff", r"""
The equation $x^2 = 4$ with $x > 0$. We get $x = 2$ and $x = -2$; since $x>0$, we take $x = 2$.

Hmm, actually I realise the question asks for the sum of all solutions: $2 + (-2) = 0$.

$\boxed{2}$
""", "0", False)

add("box15", "ff", r"""
Let me reconsider. I previously wrote $\boxed{14}$, but that double counted the corner squares. Removing the 4 corners, we get $14 - 4 = 10$.

So the correct answer is $10$.
""", "10", True, "earlier boxed answer retracted; final unboxed")

add("box16", "ff", r"""
Let me reconsider. I previously wrote $\boxed{14}$, but that double counted the corner squares. Removing the 4 corners, we get $14 - 4 = 10$.

So the correct answer is $10$.
""", "14", False)

# --- non-copula final sentences, chat ---
add("verb01", "ff", r"""
Each row has 8 seats and there are 12 rows, so 8 × 12 = 96 seats. 6 seats are broken.

The theater can seat 90 people.
""", "90", True)

add("verb02", "ff", r"""
Each row has 8 seats and there are 12 rows, so 8 × 12 = 96 seats. 6 seats are broken.

The theater can seat 96 people.
""", "90", False)

add("verb03", "ff", r"""
The tank fills at 5 liters per minute and holds 200 liters, so 200/5 = 40 minutes. With a leak of 1 liter per minute, the net rate is 4, so 200/4 = 50 minutes.

It takes 50 minutes to fill the tank.
""", "50", True)

add("verb04", "ff", r"""
The tank fills at 5 liters per minute and holds 200 liters, so 200/5 = 40 minutes. With a leak of 1 liter per minute, the net rate is 4, so 200/4 = 50 minutes.

It takes 40 minutes to fill the tank.
""", "50", False)

add("verb05", "ff", r"""
We need to count the paths on a 3×3 grid moving only right or down: $\binom{6}{3} = 20$.

Thus, we get 20 paths.
""", "20", True)

add("verb06", "ff", r"""
We need to count the paths on a 3×3 grid moving only right or down: $\binom{6}{3} = 20$.

Thus, we get 6 paths.
""", "20", False)

# --- self-correction in the final part ---
add("corr01", "ff", r"""
So the answer is 24.

Wait, I need to double check. We counted arrangements where the two A's are distinguishable, so we must divide by 2: 24 / 2 = 12.

Final answer: 12
""", "12", True)

add("corr02", "ff", r"""
So the answer is 24.

Wait, I need to double check. We counted arrangements where the two A's are distinguishable, so we must divide by 2: 24 / 2 = 12.

Final answer: 12
""", "24", False)

add("corr03", "ff", r"""
Adding the values: 13 + 29 = 42.

Hmm, but we must subtract the overlap of 7. The correct total is 35.
""", "42", False)

add("corr04", "ff", r"""
**Answer: 42**

Actually, I made an arithmetic error above: 6 × 8 = 48, not 42. Correcting this, the total is 48.
""", "42", False)

# --- hedges / multiple answers ---
add("hedge01", "ff", r"""
If the coin is fair the expected number of heads in 10 flips is 5. If it's biased as described (p = 0.6) the expected number is 6.

The expected number of heads is 5 or 6 depending on the interpretation.
""", "6", False)

add("hedge02", "ff", r"""
We test small values: n = 1 works, n = 2 works, n = 3 fails.

So n can be 1 or 2, and I think the intended answer is probably 2.
""", "2", False, "debatable; hedged but commits 'probably 2'")

add("hedge03", "ff", r"""
The value of the expression is between 3 and 4; more precisely, it is approximately 3.5.

So the answer is about 3.5.
""", r"\frac{7}{2}", False, "approximate; arguably correct since 3.5 = 7/2 exactly. Debatable")

add("hedge04", "ff", r"""
I'm not able to determine the exact value without more information about the angle. If the triangle is right-angled, the area would be 24.
""", "24", False)

# --- superset / extra solutions ---
add("sup01", "ff", r"""
We solve $\sqrt{x+3} = x - 3$. Squaring: $x + 3 = x^2 - 6x + 9$, so $x^2 - 7x + 6 = 0$, giving $x = 1$ or $x = 6$.

The solutions are $x = 1$ and $x = 6$.
""", "6", False, "extraneous root not rejected")

add("sup02", "ff", r"""
The primes dividing 60 are 2, 3, and 5.

So the largest prime factor of 60 is 5, and the prime factors are 2, 3, 5.
""", "5", True, "final sentence states 5 then lists all; human accepts")

add("sup03", "r1", r""" x^2 = 9 gives x = 3 or x = -3; we need x>0. </think> <answer> 3, -3 </answer>""", "3", False)

# --- R1-Zero more ---
add("r1z41", "r1", r""" The probability is 3/8. </think> <answer> The probability is $\frac{3}{8}$. </answer>""", r"\frac{3}{8}", True, "sentence in answer tag")
add("r1z42", "r1", r""" I get 12. </think> <answer> There are 12 ways. </answer>""", "12", True, "sentence in answer tag")
add("r1z43", "r1", r""" I get 12. </think> <answer> There are 14 ways. </answer>""", "12", False)
add("r1z44", "r1", r""" The cost is 64. </think> <answer> $64 </answer>""", "64", True)
add("r1z45", "r1", r""" 91 = 7*13. </think> <answer> No, 91 is not prime. </answer>""", "No", True)
add("r1z46", "r1", r""" The answer is C since it gives 12. </think> <answer> C) 12 </answer>""", "C", True)
add("r1z47", "r1", r""" Solving gives x = 4. </think> <answer> x = 4 </answer>""", "5", False)
add("r1z48", "r1", r""" The area is 25π ≈ 78.5. </think> <answer> 78.5 </answer>""", r"25\pi", False)
add("r1z49", "r1", r""" 2 hours and 30 minutes. </think> <answer> 2.5 hours </answer>""", "2.5", True)
add("r1z50", "r1", r""" Half of 5 is 2.5. </think> <answer> 2 1/2 </answer>""", "2.5", True)
add("r1z51", "r1", r""" Compute 7*8 = 56. </think> <answer> 56 </answer> </think> <answer> 54 </answer>""", "56", False, "two answer blocks; last is 54")
add("r1z52", "r1", r""" The roots are 2 and 3. </think> <answer> 2 and 3 </answer>""", "2,3", True)
add("r1z53", "r1", r""" The roots are 2 and 3. </think> <answer> \boxed{2}, \boxed{3} </answer>""", "2,3", True, "two boxes inside answer")
add("r1z54", "r1", r""" x = 5. </think> <answer> \boxed{x = 5} </answer>""", "5", True)
add("r1z55", "r1", r""" ... </think> <answer> 5 or 6 </answer>""", "5", False)
add("r1z56", "r1", r""" Total: 1,250. </think> <answer> 1,250 </answer>""", "125", False, "thousands vs 125")
add("r1z57", "r1", r""" (3, -4). </think> <answer> (3, 4) </answer>""", "(3,-4)", False)

# --- misc incorrect in chat style ---
add("misc01", "ff", r"""
### Solution

We want the number of positive divisors of \(360 = 2^3 \cdot 3^2 \cdot 5\).

\[
d(360) = (3+1)(2+1)(1+1) = 24
\]

### Final Answer
The number of positive divisors of 360 is **24**.
""", "24", True)

add("misc02", "ff", r"""
### Solution

We want the number of positive divisors of \(360 = 2^3 \cdot 3^2 \cdot 5\).

\[
d(360) = (3+1)(2+1)(1+1) = 24
\]

### Final Answer
The number of positive divisors of 360 is **18**.
""", "24", False)

add("misc03", "ff", r"""
Let \(x\) be the number. Then \(3x + 4 = 25\), so \(x = 7\).

- Check: \(3 \cdot 7 + 4 = 25\) ✓

**Answer:** The number is \(7\).
""", "7", True)

add("misc04", "ff", r"""
Let \(x\) be the number. Then \(3x + 4 = 25\), so \(x = 7\).

- Check: \(3 \cdot 7 + 4 = 25\) ✓

**Answer:** The number is \(21\).
""", "7", False)

add("misc05", "ff", r"""
To find \(f(3)\) for \(f(x) = x^2 + 2x\):

\[
f(3) = 9 + 6 = 15
\]

### Final Answer
\(f(3) = 15\)
""", "15", True)

add("misc06", "ff", r"""
To find \(f(3)\) for \(f(x) = x^2 + 2x\):

\[
f(3) = 9 + 6 = 15
\]

### Final Answer
\(f(3) = 16\)
""", "15", False)

add("misc07", "ff", r"""
**Step 1.** The sum of the angles of a triangle is \(180^\circ\).
**Step 2.** \(180^\circ - 50^\circ - 60^\circ = 70^\circ\).

**Final answer:** \(\boxed{70^\circ}\)
""", "70", True)

add("misc08", "ff", r"""
**Step 1.** The sum of the angles of a triangle is \(180^\circ\).
**Step 2.** \(180^\circ - 50^\circ - 60^\circ = 70^\circ\).

The third angle measures \(80^\circ\).
""", "70", False)

add("misc09", "ff", r"""
The expected value of a fair die roll is \(\frac{1+2+3+4+5+6}{6} = \frac{21}{6} = 3.5\).

- So on average we expect **3.5**.
""", "3.5", True, "answer in a bullet")

add("misc10", "ff", r"""
The expected value of a fair die roll is \(\frac{1+2+3+4+5+6}{6} = \frac{21}{6} = 3.5\).

- So on average we expect **3**.
""", "3.5", False)

add("misc11", "ff", r"""
We need \(\gcd(48, 18)\).

| Step | a | b |
|---|---|---|
| 1 | 48 | 18 |
| 2 | 18 | 12 |
| 3 | 12 | 6 |
| 4 | 6 | 0 |

The GCD is **6**.
""", "6", True)

add("misc12", "ff", r"""
We need \(\gcd(48, 18)\).

| Step | a | b |
|---|---|---|
| 1 | 48 | 18 |
| 2 | 18 | 12 |
| 3 | 12 | 6 |
| 4 | 6 | 0 |

So the answer is the last nonzero remainder in the table.
""", "6", False, "never states the value in the conclusion; debatable")

add("misc13", "ff", r"""
I'll compute 2^10 = 1024. Then 2^10 - 1 = 1023.

So, 1023.
""", "1023", True)

add("misc14", "ff", r"""
I'll compute 2^10 = 1024. Then 2^10 - 1 = 1023.

So, 1024.
""", "1023", False)

CASES = C

# ===================== Batch 3: trailing material after the answer, MC letters after words, Minerva style =====================
add("tail01", "ff", r"""
We have 3 boxes with 4 pens each, so 3 × 4 = 12 pens.

So the answer is 12.

Let me verify: 3 × 4 = 12 ✓. Also 2 × 6 = 12 ✓.
""", "12", True, "verification after answer; check marks")

add("tail02", "ff", r"""
Let \(x\) be the number. From \(2x + 1 = 7\) we get \(x = 3\).

**Answer:** \(x = 3\)

**Verification:** \(2(3) + 1 = 7\) ✓
""", "3", True, "verification block after the answer (common in GPT-4o/Claude outputs)")

add("tail03", "ff", r"""
Let \(x\) be the number. From \(2x + 1 = 7\) we get \(x = 3\).

**Answer:** \(x = 3\)

**Check:** substituting, \(2(3) + 1 = 7\), which matches.
""", "7", False, "truth 7 appears in the check; answer is 3 (truth set to 7 to test false accept)")

add("tail04", "ff", r"""
We compute 8 + 4 = 12.

**Answer: 12**

Note: if the question meant 8 - 4, the answer would be 4.
""", "12", True, "trailing alternative note")

add("tail05", "ff", r"""
We compute 8 + 4 = 12.

**Answer: 12**

Note: if the question meant 8 - 4, the answer would be 4.
""", "4", False)

add("tail06", "ff", r"""
The sum of the nine numbers is 45, so the average is 45/9 = 5.

Therefore, the average is 5 and the sum is 45.
""", "5", True, "asked for the average; final sentence gives two quantities")

add("tail07", "ff", r"""
The solution is x = 3. Substituting back, 2(3) + 1 = 7, which checks out.
""", "3", True)

add("tail08", "ff", r"""
Dividing 47 apples among 5 friends: 47 = 5 × 9 + 2.

**Final Answer**

\[
\boxed{9}
\]

Each friend gets 9 apples, with 2 apples left over.
""", "9", True)

add("mcw01", "ff", r"""
The derivative of \(x^3\) is \(3x^2\), which matches the fourth choice.

The answer is: Option D
""", "D", True)

add("mcw02", "ff", r"""
The derivative of \(x^3\) is \(3x^2\), which matches the fourth choice.

The answer is: Option B
""", "D", False)

add("mcw03", "ff", r"""
Comparing the options, only choice (C) satisfies both conditions, since 12 is divisible by both 3 and 4.

So I would go with choice (C).
""", "C", True)

add("mcw04", "ff", r"""
Comparing the options, choice (C) fails because 12 is not divisible by 5, while choice (D) with 20 works.

So I would go with choice (D).
""", "C", False)

add("min01", "ff", r"""
We have $3x = 15$, so $x = 5$.
Final Answer: The final answer is $5$. I hope it is correct.
""", "5", True, "Minerva / Llama eval style")

add("min02", "ff", r"""
We have $3x = 15$, so $x = 5$.
Final Answer: The final answer is $6$. I hope it is correct.
""", "5", False)

add("min03", "ff", r"""
The total is $4 \times 12 = 48$.

Final Answer: The final answer is $48$. I hope it is correct.
""", "48", True)

add("gsm38", "ff", r"""
Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4, leaving 16 - 3 - 4 = 9.
She sells 9 eggs at $2 each, so 9 * 2 = $18.
So the answer is $18.
""", "18", True)

add("gsm39", "ff", r"""
Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4, leaving 16 - 3 - 4 = 9.
She sells 9 eggs at $2 each, so 9 * 2 = $18.
So the answer is $16.
""", "18", False)

CASES = C
