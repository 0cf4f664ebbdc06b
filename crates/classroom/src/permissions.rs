//! The one table of who may do what. Skeleton: the helper fills it in.
