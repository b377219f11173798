"""Pure decision model of a simulated rep: seeded RNG in, a plan of timed actions (with its reason) out."""
