"""The service catalog: its HTTP service, its records (seed/) and the NLU lexicon made from them."""

__version__ = "0.1.0"
