"""Home services on order (点单式服务): providers, caregivers, the catalog, orders with dispatch
and on-site proof, ratings and complaints, and meal assistance (助餐)."""
