//! Surrogate models (under construction).
