"""Everything of training-auditor that executes user code: loop, guards, probes, script audit."""
