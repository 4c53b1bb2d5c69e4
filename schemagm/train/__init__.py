"""schemagm.train"""
