//! Full-text search (`GET /api/v1/search`).

use federation_proto::api::client::{search_paths, SearchQuery, SearchResponse};

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// `GET /api/v1/search`: one page of results over what this user may read, most relevant
    /// first; pass the answer's `next` as `query.next` for the next page.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchResponse, ClientError> {
        self.get_query(search_paths::SEARCH, query, None).await
    }
}
