"""From finished runs to the paper's evidence: the statistics, the tables, the claims, the plan of what they
cost, the discussion's analyses, the parameter table, and the paper's own numbers."""
