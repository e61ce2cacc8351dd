"""The region overview: the first screen of officers, community workers and admins."""
