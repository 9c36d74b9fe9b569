"""Validation: do the tests tell a right implementation from a wrong one (mutants, mistakes, shortcuts)?"""
