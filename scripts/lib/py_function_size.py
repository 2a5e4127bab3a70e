#!/usr/bin/env python3
"""The 60-line rule for Python (clang-tidy's readability-function-size holds it for C++):
prints every function of the given files that is longer and exits 1 if there is one."""
import ast
import sys

LIMIT = 60


def main(paths):
    long = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > LIMIT:
                    long.append(f"{path}:{node.lineno}: {node.name} is {lines} lines (limit {LIMIT})")
    for line in long:
        print(line)
    return 1 if long else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
