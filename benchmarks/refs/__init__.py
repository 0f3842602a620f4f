"""Bare references run as scripts in a fresh process of their own (time and peak RSS)."""
