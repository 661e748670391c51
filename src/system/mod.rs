//! GPU systems and the measured database.
