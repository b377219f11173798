"""Pure ops domain: metrics math, Erlang C, read-model state transitions, masking."""
