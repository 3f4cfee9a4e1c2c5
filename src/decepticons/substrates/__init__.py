"""substrates"""
