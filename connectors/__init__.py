"""REST clients for Magento 2 and KashFlow, with one typed error tree (see ``errors``)."""
