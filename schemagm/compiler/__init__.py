"""schemagm.compiler"""
