"""The verifier: run the original and the rewritten expression of each fix on synthetic tensors, check
that they agree (shape, dtype, values, gradients, exceptions) and time both.

The only part of einlint that imports torch, and only when it runs (``einlint --verify``); the linter
never loads this package. Modules: ``targets`` (what a fix's verification runs: the target its rule put on it),
``expressions`` (the pair in canonical form), ``allowlist`` (the security boundary: what may be
evaluated, and the one place that evaluates it), ``inputs`` (synthetic operands), ``equivalence`` (the
comparison), ``timing``, ``cache``, ``verifier`` (one verdict per fix), ``worker`` (each fix verified in
a child process with resource limits), ``approval`` (the fixes ``--fix --verify`` may apply),
``report`` and ``command`` (the CLI's ``--verify``, whose own process never imports torch: only the
worker does).
"""
