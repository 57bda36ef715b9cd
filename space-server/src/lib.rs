//! Space server library.
