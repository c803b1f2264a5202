"""REST framework plumbing shared by the apps' API views."""
