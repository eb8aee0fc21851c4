"""The leaderboard of submitted predictions: its entries and their storage, the checks, the verdicts, the leak check.

From the bottom: :mod:`~ldmnist_hub.submissions.verdicts` (what ``verify`` says of an entry),
:mod:`~ldmnist_hub.submissions.leak` (do predictions know the test split's own noise?),
:mod:`~ldmnist_hub.submissions.entries` (an entry's fields and files, and where a repo stores them) and
:mod:`~ldmnist_hub.submissions.checks` (scoring an entry, and the one list of checks both ``submit`` and
``verify`` run). ``submit`` and ``verify`` themselves, which write and read repos with these, are in
:mod:`ldmnist_hub.publish.submit`.
"""
