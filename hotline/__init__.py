"""Shared domain core of the legal-aid hotline: text normalisation, safety rules, entity values,
classification, settings and service management. Imported by `bot/` and `actions/`; never imports them."""
