#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates tests/expr/random/test_random_<k>.cpp: random element-wise statements checked against the op-by-op
double reference (tests/support/differential.hpp), forward and backward, with exact kernel counts.

    python3 scripts/gen_random_expressions.py            # rewrites the committed files (same seed, same output)
    python3 scripts/gen_random_expressions.py --seed 5   # another draw, to explore

Every statement has depth 2 to 6, 1 to 4 distinct leaves (a leaf may be used several times), leaves of rank 0 to 4
broadcast against each other, scalar operands, and leaves that are transposed, strided or offset views. Together the
statements use every unary, binary and ternary op of the core. Inputs are drawn in [-2, 2]; the generator tracks an
interval for every subexpression and guards the domains (log, sqrt, rsqrt, log1p, pow, division) and magnitudes, so
each statement is finite where it is evaluated and a mismatch means a wrong value or derivative, not an overflow.
"""
import argparse
import math
import os
import random

UNARY = ["neg", "exp", "log", "log1p", "sqrt", "rsqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
         "leaky_relu", "elu", "gelu", "gelu_tanh", "silu", "softplus", "clamp"]
BINARY = ["add", "sub", "mul", "div", "pow", "minimum", "maximum", "lt", "le", "gt", "ge", "eq", "ne"]
TERNARY = ["where"]
ALL_OPS = UNARY + BINARY + TERNARY
COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
LIMIT = 20.0  # no subexpression may exceed this magnitude


class Node:
    def __init__(self, code, lo, hi, depth, ops, leaves):
        self.code, self.lo, self.hi, self.depth, self.ops, self.leaves = code, lo, hi, depth, ops, leaves


def num(x):
    s = repr(float(x))
    return s if ("e" in s or "." in s) else s + ".0"


class Generator:
    def __init__(self, rng, nleaves):
        self.rng = rng
        self.nleaves = nleaves
        self.used = set()

    # ---- building blocks -------------------------------------------------------------------------------------------
    def leaf(self):
        k = self.rng.randrange(self.nleaves)
        self.used.add(k)
        return Node(f"x{k}", -2.0, 2.0, 0, [], 1)

    def scalar(self, lo=-2.5, hi=3.0, away_from_zero=0.25):
        while True:
            v = round(self.rng.uniform(lo, hi) * 4) / 4
            if abs(v) >= away_from_zero:
                return Node(num(v), v, v, 0, [], 0)

    def unary(self, op, a, param=None):
        lo, hi = a.lo, a.hi
        code = None
        if op == "neg":
            code, lo, hi = f"-({a.code})", -hi, -lo
        elif op == "exp":
            lo, hi = math.exp(lo), math.exp(hi)
        elif op in ("log", "sqrt", "rsqrt", "log1p"):
            f = {"log": math.log, "sqrt": math.sqrt, "rsqrt": lambda v: 1 / math.sqrt(v), "log1p": math.log1p}[op]
            lo, hi = sorted((f(lo), f(hi)))
        elif op == "abs":
            lo, hi = (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))), max(abs(lo), abs(hi))
        elif op in ("sin", "cos"):
            lo, hi = -1.0, 1.0
        elif op == "tanh":
            lo, hi = math.tanh(lo), math.tanh(hi)
        elif op == "sigmoid":
            lo, hi = 1 / (1 + math.exp(-lo)), 1 / (1 + math.exp(-hi))
        elif op == "relu":
            lo, hi = max(lo, 0.0), max(hi, 0.0)
        elif op == "leaky_relu":
            code = f"leaky_relu({a.code}, {num(param)})"
            lo, hi = min(lo, param * lo), max(hi, param * hi)
        elif op == "elu":
            code = f"elu({a.code}, {num(param)})"
            lo, hi = min(lo, -param, 0.0) if lo < 0 else lo, max(hi, 0.0) if hi > 0 else hi
        elif op in ("gelu", "gelu_tanh"):
            lo, hi = min(lo, -0.18), max(hi, 0.0)
        elif op == "silu":
            lo, hi = min(lo, -0.28), max(hi, 0.0)
        elif op == "softplus":
            beta, threshold = param
            code = f"softplus({a.code}, {num(beta)}, {num(threshold)})"
            lo, hi = 0.0, max(hi, 0.0) + 1.0
        elif op == "clamp":
            cl, ch = param
            code = f"clamp({a.code}, {num(cl)}, {num(ch)})"
            lo, hi = min(max(lo, cl), ch), min(max(hi, cl), ch)
        if code is None:
            code = f"{op}({a.code})"
        return Node(code, lo, hi, a.depth + 1, a.ops + [op], a.leaves)

    def binary(self, op, a, b):
        corners = None
        if op in ARITH:
            sym = ARITH[op]
            code = f"({a.code} {sym} {b.code})"
            f = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
                 "div": lambda x, y: x / y}[op]
            corners = [f(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        elif op == "pow":
            code = f"pow({a.code}, {b.code})"
            corners = [x ** y for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        elif op in ("minimum", "maximum"):
            code = f"{op}({a.code}, {b.code})"
            f = min if op == "minimum" else max
            corners = [f(a.lo, b.lo), f(a.hi, b.hi)]
        else:  # comparisons, as operators or by name
            code = f"({a.code} {COMPARE[op]} {b.code})" if self.rng.random() < 0.5 else f"{op}({a.code}, {b.code})"
            corners = [0.0, 1.0]
        return Node(code, min(corners), max(corners), max(a.depth, b.depth) + 1, a.ops + b.ops + [op],
                    a.leaves + b.leaves)

    # ---- guards: keep domains valid and magnitudes bounded -------------------------------------------------------------
    def bounded(self, n, limit=LIMIT):
        if max(abs(n.lo), abs(n.hi)) <= limit:
            return n
        k = self.rng.choice(["tanh", "clamp", "sin"])
        if k == "clamp":
            return self.unary("clamp", n, (-limit / 2, limit / 2))
        if k == "tanh":
            t = self.unary("tanh", n)
            return self.binary("mul", t, Node(num(limit / 2), limit / 2, limit / 2, 0, [], 0))
        return self.unary(k, n)

    def positive(self, n, minimum):
        if n.lo >= minimum and n.hi <= LIMIT:
            return n
        k = self.rng.choice(["abs", "exp", "sigmoid", "square", "softplus"])
        c = Node(num(minimum + 0.25), minimum + 0.25, minimum + 0.25, 0, [], 0)
        if k == "abs":
            return self.binary("add", self.unary("abs", self.bounded(n, 4.0)), c)
        if k == "exp":
            return self.unary("exp", self.bounded(n, 1.5)) if minimum <= 0.2 else \
                self.binary("add", self.unary("exp", self.bounded(n, 1.5)), c)
        if k == "sigmoid":
            return self.binary("add", self.unary("sigmoid", n), c)
        if k == "square":
            m = self.bounded(n, 2.0)
            sq = self.binary("mul", m, m)
            sq.lo, sq.hi = (0.0 if m.lo <= 0 <= m.hi else min(m.lo ** 2, m.hi ** 2)), max(m.lo ** 2, m.hi ** 2)
            return self.binary("add", sq, c)
        return self.binary("add", self.unary("softplus", self.bounded(n, 4.0), (1.0, 20.0)), c)

    # ---- random trees --------------------------------------------------------------------------------------------------
    def operand(self, depth, scalar_ok=True):
        if depth <= 0:
            return self.scalar() if scalar_ok and self.rng.random() < 0.25 else self.leaf()
        return self.expr(depth)

    def expr(self, depth, op=None):
        """A node whose depth is about `depth` (guards may add a little)."""
        if depth <= 0:
            return self.leaf()
        if op is None:
            op = self.rng.choice(UNARY * 2 + BINARY + TERNARY)
        d1 = depth - 1
        other = lambda: self.rng.randrange(0, d1 + 1)
        if op in UNARY:
            a = self.expr(d1)
            if op == "exp":
                a = self.bounded(a, 2.5)
            elif op in ("log", "sqrt", "rsqrt"):
                a = self.positive(a, 0.1)
            elif op == "log1p":
                a = self.positive(a, 0.0) if a.lo <= -0.7 else a
            elif op in ("sin", "cos", "tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "elu"):
                a = self.bounded(a, 8.0)
            param = None
            if op == "leaky_relu":
                param = self.rng.choice([0.01, 0.1, 0.2])
            elif op == "elu":
                param = self.rng.choice([0.5, 1.0, 1.5])
            elif op == "softplus":
                param = self.rng.choice([(1.0, 20.0), (2.0, 5.0), (0.5, 2.0)])
            elif op == "clamp":
                lo = round(self.rng.uniform(-1.5, 0.5) * 4) / 4
                param = (lo, lo + round(self.rng.uniform(0.5, 2.0) * 4) / 4)
            return self.bounded(self.unary(op, a, param))
        if op in BINARY:
            deep_left = self.rng.random() < 0.5
            a = self.operand(d1 if deep_left else other(), scalar_ok=not deep_left)
            b = self.operand(other() if deep_left else d1, scalar_ok=deep_left)
            if op == "div":
                b = self.positive(b, 0.25) if not b.leaves == 0 else b
            elif op == "pow":
                if a.leaves == 0:  # a number to the power of an expression
                    a = Node(num(self.rng.choice([0.5, 1.5, 2.0, 3.0])), 0.5, 3.0, 0, [], 0)
                    a.lo = a.hi = float(a.code)
                    b = self.bounded(b, 2.5)
                else:
                    a = self.bounded(self.positive(a, 0.2), 3.0)
                    if a.lo < 0.2:
                        a = self.positive(a, 0.2)
                    if b.leaves == 0:
                        b = Node(num(self.rng.choice([-1.5, -0.5, 0.5, 2.0, 2.5, 3.0])), 0, 0, 0, [], 0)
                        b.lo = b.hi = float(b.code)
                    else:
                        b = self.bounded(b, 2.0)
            return self.bounded(self.binary(op, a, b))
        # where(cond, a, b): cond is a comparison or any expression (nonzero is true)
        cmp = self.rng.choice(list(COMPARE))
        cond = self.binary(cmp, self.operand(other(), scalar_ok=False), self.operand(other()))
        a, b = self.operand(d1, scalar_ok=False), self.operand(other())
        n = Node(f"where({cond.code}, {a.code}, {b.code})", min(a.lo, b.lo), max(a.hi, b.hi),
                 max(cond.depth, a.depth, b.depth) + 1, cond.ops + a.ops + b.ops + ["where"],
                 cond.leaves + a.leaves + b.leaves)
        return self.bounded(n)


def random_shapes(rng, nleaves):
    """An output shape of rank 0 to 4 and leaf shapes that broadcast to it (suffixes with some dims set to 1)."""
    rank = rng.choice([0, 1, 2, 2, 3, 3, 4])
    dims = [rng.choice([1, 2, 3, 4, 5]) for _ in range(rank)]
    if rank and rng.random() < 0.4:
        dims[-1] = rng.choice([16, 17, 33, 37])  # full SIMD batches and a tail
    while math.prod(dims) > 700:
        dims[rng.randrange(rank)] = 1
    shapes = []
    for k in range(nleaves):
        r = rank if k == 0 else rng.randint(0, rank)
        s = dims[rank - r:]
        if k > 0:
            s = [1 if rng.random() < 0.3 else d for d in s]
        shapes.append(s)
    return shapes


def layout_for(rng, shape):
    options = ["Contiguous", "Contiguous"]
    if len(shape) >= 1:
        options += ["Strided", "Offset"]
    if len(shape) >= 2:
        options += ["Transposed", "Transposed"]
    return rng.choice(options)


def statement(rng, index):
    """One statement's C++ test case; forces op ALL_OPS[index % len] at the root for coverage."""
    for _ in range(1000):
        nleaves = rng.choice([1, 2, 2, 3, 3, 4])
        depth = rng.randint(2, 6)
        g = Generator(rng, nleaves)
        root_op = ALL_OPS[index % len(ALL_OPS)]
        e = g.expr(depth, root_op)
        if not (2 <= e.depth <= 6) or len(g.used) != nleaves or e.leaves > 10:
            continue
        shapes = random_shapes(rng, nleaves)
        specs = ", ".join(
            "{{" + ", ".join(str(d) for d in s) + "}, testing::Layout::" + layout_for(rng, s) + "}" for s in shapes)
        params = ", ".join(f"const auto& x{k}" for k in range(nleaves))
        seed = rng.randrange(1 << 31)
        lines = [
            f"// depth {e.depth}, {e.leaves} leaf uses of {nleaves} tensors; ops: {' '.join(sorted(set(e.ops)))}",
            f'TEST_CASE("random statement {index}", "[expr][differential]") {{',
            f"  auto f = []({params}) {{ return {e.code}; }};",
            f"  const std::vector<testing::LeafSpec> leaves{{{specs}}};",
            f"  SECTION(\"float\") {{ testing::check_statement<float>(f, leaves, {seed}u); }}",
            f"  SECTION(\"double\") {{ testing::check_statement<double>(f, leaves, {seed}u); }}",
            "}",
        ]
        return "\n".join(lines), set(e.ops), e.depth, shapes
    raise RuntimeError("could not generate a statement")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--count", type=int, default=208)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "expr", "random"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cases, seen, depths, ranks = [], set(), set(), set()
    for i in range(args.count):
        code, ops, depth, shapes = statement(rng, i)
        cases.append(code)
        seen |= ops
        depths.add(depth)
        ranks |= {len(s) for s in shapes}
    missing = set(ALL_OPS) - seen
    if missing:
        raise SystemExit(f"ops never generated: {sorted(missing)}")
    os.makedirs(args.out, exist_ok=True)
    per = math.ceil(len(cases) / args.files)
    for k in range(args.files):
        chunk = cases[k * per:(k + 1) * per]
        header = [
            "// SPDX-License-Identifier: Apache-2.0",
            "// GENERATED by scripts/gen_random_expressions.py; do not edit. Regenerate with:",
            f"//   python3 scripts/gen_random_expressions.py --seed {args.seed} --count {args.count} --files {args.files}",
            "// Each statement runs through sinter (1 forward and 1 backward kernel, asserted) and through the op-by-op",
            "// double reference in tests/support/ref_autodiff.hpp; values and every leaf's gradient must agree.",
            "#include <support/differential.hpp>",
            "",
        ]
        with open(os.path.join(args.out, f"test_random_{k}.cpp"), "w") as fh:
            fh.write("\n".join(header) + "\n\n".join(chunk) + "\n")
    print(f"{len(cases)} statements in {args.files} files; depths {sorted(depths)}; leaf ranks {sorted(ranks)}; "
          f"all {len(ALL_OPS)} ops used")


if __name__ == "__main__":
    main()
