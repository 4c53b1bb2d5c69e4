"""schemagm.language"""
