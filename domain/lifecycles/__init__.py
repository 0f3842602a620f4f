"""The life cycles of the records, one transition table (`domain.transitions.Lifecycle`) per
kind of record; handlers ask the table for the step, then persist and notify."""
