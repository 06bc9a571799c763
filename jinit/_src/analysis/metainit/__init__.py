"""MetaInit: weight norms tuned at initialization to minimize the gradient quotient."""
