"""The national record exchange: batches for the 志愿服务信息报送员."""
