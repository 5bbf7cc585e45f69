"""What models are asked: the teacher's Jinja2 templates and the student prompt that SFT, DPO and GRPO
records share (docs/architecture.md)."""
