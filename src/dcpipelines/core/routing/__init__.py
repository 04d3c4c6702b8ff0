"""Edge/cloud routing of requests under a budget: Pareto relative superiority, budgeted
allocation, the RouteT2I quality predictor, baseline routers and a latency/cost model."""
