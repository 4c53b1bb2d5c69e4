"""schemagm.cli"""
