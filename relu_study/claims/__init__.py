"""The claim studies: shared statistics (``stats``), sweep tables per network
(``tables``), the comparison machinery (``analysis``), one module per study
(``studies/``), how results read (``document``, ``literature``), running a study
(``runner``), the report (``report``) and the command that reruns everything
(``reproduce``)."""
