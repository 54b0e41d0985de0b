"""Evidence from the user's own runs: ``einlint observe -- COMMAND`` records, at each flagged statement,
what flowed through it (operand classes, ranks, dtypes, layouts, time), and linting reads it back.

- ``sites``: where a finding's statement is, the hash that ties observations to its text, and the
  operands its fix reads (with the einsum term each must fit).
- ``observations``: the observations file (read, merge, write); no torch.
- ``judgement``: a fix's named assumptions against the observations at its site: observed,
  withdrawn (with what was observed) or not observed.
- ``run``: the ``observe`` subcommand (lint, hand the sites to the child, merge what it recorded).
- ``recorder``: loaded only inside the recorded command's processes.

Linting never imports the recorder, and nothing here imports torch except through values the recorder
is handed in the recorded process.
"""
