"""The elder registry (老人信息数据库): profiles, contacts, status history, import and export."""
