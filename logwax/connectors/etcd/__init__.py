"""etcd: collection targets kept per host and followed while the collect flow runs."""
