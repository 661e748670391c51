//! Enumeration, agg and disagg sweeps, Pareto and picking.
