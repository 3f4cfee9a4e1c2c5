"""readouts"""
