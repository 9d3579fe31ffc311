"""The emulator's SOQL: text to tokens (`tokens`), tokens to a syntax tree (`syntax`), trees run
over records (`execute`).
"""
