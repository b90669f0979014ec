"""Pure mapping from Magento documents to KashFlow documents (no I/O, no framework imports).

Entry points live in ``mappings.orders`` (decide, build_invoice, build_payment, ...),
``mappings.magento`` (parse_order) and ``mappings.rules`` (load_rules).
"""
