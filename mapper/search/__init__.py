"""One layer's search: the ask/tell loop, the batch evaluator, the Pareto archive, strategies."""
