//! smac umbrella.
