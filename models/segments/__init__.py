"""Tags and segments: marketer-edited YAML in ``profiles/`` to tables and consent-filtered files.

Framework-free; ``orchestration/defs/segments.py`` wraps it in one asset per definition file,
``zhongtai segments`` (``cli``) lists, validates, sizes, previews and exports.

| module | does |
| --- | --- |
| ``yamlfile`` | YAML with the line of every key, duplicate keys refused; ``file:line: path: message; did you mean ...?`` errors |
| ``schema`` | pydantic models of tag files and segments; the name checks (fields, tags, day windows) |
| ``contract`` | the allowed fields: columns of the enforced dbt contracts of the marts (customer_360, else dim_customers) |
| ``registry`` | finds and checks every file in ``profiles/tags`` and ``profiles/segments``, each on its own |
| ``compiler`` | the one place definitions become SQL: bound values, contract-checked fields quoted by DuckDB; the fact sources |
| ``store`` | the ``segments`` schema: customer_tags, segment_members (SCD2), segment_runs (sizes over time) |
| ``run`` | compute a tag file, evaluate and record a segment, plot its size |
| ``consent`` | the latest consent per customer and purpose, over identifiers that belong to the customer |
| ``exports`` | per-destination files (sms, email, wechat; hashed for tencent_ads, ocean_engine, meta, google, amazon_ads), delta, manifest, audit log |
| ``cli`` | ``zhongtai segments list / validate / size / preview / export`` |
"""
