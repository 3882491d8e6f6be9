"""Reporting: chart data computed once, drawn as PNG + HTML pages and as Altair charts.

Layer 5 (beside :mod:`leadscore.explain`): it reads the modelling and explaining layers and
draws what they computed; the faces (command line, API, dashboard) call it.

* the chart data, plain data frames and dataclasses —
  :mod:`~leadscore.reporting.curves` (the evaluation: ROC, precision-recall, calibration,
  confusion, profit, gains and lift, score distribution, importance) and
  :mod:`~leadscore.reporting.fields` (the insights: drivers, conversion by level);
* the matplotlib renderer — :mod:`~leadscore.reporting.plots` and
  :mod:`~leadscore.reporting.insight_plots` on :mod:`~leadscore.reporting.mpl`;
* the Altair renderer — :mod:`~leadscore.reporting.charts` (the dashboard);
* the HTML helpers — :mod:`~leadscore.reporting.page`;
* the pages — :mod:`~leadscore.reporting.report` (``leadscore report``, from a model folder
  read by :mod:`~leadscore.reporting.evaluation`) and :mod:`~leadscore.reporting.insights`
  (``leadscore insights``);
* :mod:`~leadscore.reporting.style` — the colours and sizes both renderers share.

Nothing is imported here, so importing one module does not load matplotlib and Altair both.

Example
-------
>>> from leadscore.reporting.report import write_report
>>> _ = model.save("model/")
>>> write_report("model/", "report/")
PosixPath('report/report.html')
"""
