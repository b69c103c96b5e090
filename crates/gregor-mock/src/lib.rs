//! gregor-mock
