"""schemagm.render"""
