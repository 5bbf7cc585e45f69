"""Teachers: what writes the traces.

``template`` is the offline teacher; ``openai_teacher`` the OpenAI-compatible client and its pacing.
Import them from their modules: this package stays empty so that a template build never loads the
OpenAI client (about 20 MB at start-up it would not use).
"""
