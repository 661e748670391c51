pub mod fake_catalog;
