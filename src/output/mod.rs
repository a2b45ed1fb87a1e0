//! Renders events.
