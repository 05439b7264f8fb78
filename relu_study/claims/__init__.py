"""The claim studies: statistics (``stats``), the report with its verdicts
(``report``) and the command that reruns everything (``reproduce``)."""
