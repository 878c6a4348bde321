"""Writing banks: the self-check of ``bank check --strict`` and model-drafted key points for an
imported notes file (the rule-based import itself is :mod:`interviewer.bank.importer`)."""
