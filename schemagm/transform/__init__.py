"""schemagm.transform"""
