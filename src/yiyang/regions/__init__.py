"""Administrative region tree: district → street/town → community/village (12-digit codes)."""
